"""Rules for outside input (``untrusted``) and the errors services raise (``errors``)."""

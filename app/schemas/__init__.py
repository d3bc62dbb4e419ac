"""Output schemas (dump only) of the fifteen API modules; the OpenAPI document is built from them."""

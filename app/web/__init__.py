"""The app's HTTP plumbing: URL rules, the untrusted Host header, cookie sessions, security headers."""

"""Email addresses of a Mail Service and the accounts that use them."""

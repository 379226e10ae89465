"""The production data plane: Dovecot and Postfix configured to authenticate through
Mailward (DESIGN §4), the Postfix lookup tables Mailward answers, and the hook that ends
a device's Dovecot sessions when it is revoked or its password changes."""

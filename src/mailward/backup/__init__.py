"""Backup and restore of one Mailward installation: the database, the key ring, the
settings file and the data directory (Maildirs, outbound spool, TLS files), in one tar
archive whose manifest lists every file's size and SHA-256."""

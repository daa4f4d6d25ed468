"""PKI core: keys, names, CA certificates, key encryption at rest and key export.

Pure library code: it imports only the standard library and ``cryptography`` (no Flask,
no database), so it can be used from web requests, background jobs and tests alike.
Every failure is an :class:`app.pki.errors.PkiError` with a message fit to show a user.

Entry points: :func:`app.pki.ca.create_root_certificate`,
:func:`app.pki.ca.create_intermediate_certificate`,
:func:`app.pki.keys.generate_private_key`,
:class:`app.pki.key_encryption.KeyEncryptionKeyring` and
:func:`app.pki.export.export_encrypted_pkcs8`.
"""

"""PKI core: keys, names, CA and leaf certificates, CSRs, bundles, key encryption and export.

Pure library code: it imports only the standard library and ``cryptography`` (no Flask,
no database), so it can be used from web requests, background jobs and tests alike.
Every failure is an :class:`app.pki.errors.PkiError` with a message fit to show a user.

Entry points: :func:`app.pki.ca.create_root_certificate`,
:func:`app.pki.ca.create_intermediate_certificate`,
:func:`app.pki.keys.generate_private_key`,
:class:`app.pki.key_encryption.KeyEncryptionKeyring`,
:func:`app.pki.export.export_encrypted_pkcs8`, :func:`app.pki.leaf.issue_leaf`,
:func:`app.pki.csr.parse_csr` (the only parser of user-supplied CSR bytes),
:func:`app.pki.csr.build_csr` and the bundles in :mod:`app.pki.bundles`.
"""

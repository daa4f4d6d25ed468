"""Certificate providers: one contract (``base.CertificateProvider``), a registry by type,
and the implementations. Providers receive plain data and never import Flask or models,
so the same code runs from any job."""

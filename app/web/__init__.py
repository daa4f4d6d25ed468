"""HTTP glue shared by the blueprints: access checks, htmx rendering, errors, templating."""

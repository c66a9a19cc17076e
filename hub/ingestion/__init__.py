"""Partner ingestion: the upload API, partner credentials, and late or missing deliveries."""

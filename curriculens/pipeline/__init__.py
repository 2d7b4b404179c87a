"""The sweep: measure every checkpoint of a series and write the tidy results table."""

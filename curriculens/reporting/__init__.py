"""The curriculum report: HTML/Markdown writer, figures and the shared formatting."""

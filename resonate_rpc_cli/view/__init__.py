"""Everything Rich: tables, trees, the live view. The core never imports this package."""

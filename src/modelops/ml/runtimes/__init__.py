"""Models trained outside the platform's Python (R, a separate Python environment): what is
handed to their scripts, what comes back, and the portable form the platform scores in."""

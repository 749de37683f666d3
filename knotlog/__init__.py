"""The knotlog command line: the only package that wires api/ and jobs/ together."""

"""Dashboard widgets; each renders one immutable `Frame` held in a reactive attribute."""

"""Plots where people look (drift, fairness, history): data in, PNG bytes out, drawn
off-screen; legends sit beside the axes, never on the curves."""

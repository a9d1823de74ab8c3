"""Credit scorecards: optimal WoE binning (fitted with optbinning, stored as plain numbers), a
logistic regression on the WoE columns, a points table and the binning tables."""

"""Project library, investment-project feed, 二上二下 compilation, indicators, adjustments."""

"""Calibrated synthetic influencer-marketing worlds (see data/README.md for the process).

Conversion data has no public source: every conversion this package produces is synthetic.
"""
from data.synthetic.audience import generate_follower_accounts
from data.synthetic.world import World, generate_world, write_world

__all__ = ["World", "generate_follower_accounts", "generate_world", "write_world"]

"""``python -m bot preview``: the real bot against the built-in local Discord, with a web page.

No token and no network: :mod:`localdiscord` plays Discord on 127.0.0.1, the bot runs
as its own ``python -m bot`` process pointed at it (as at a proxy), and :mod:`.web` serves
a page on 127.0.0.1 where one person types commands, presses buttons and reads the answers.
"""

"""The neutral base every other package may use: errors, crash points, content hashing, Azure ML kind
facts, field differences and the clock. It imports none of engine/, providers/ or state/.
"""

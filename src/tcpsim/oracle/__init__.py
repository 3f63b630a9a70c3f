"""Independent readings of the RFCs, written from their text, not from the simulator.

`rfc9293` is RFC 9293 §3.10.7 (SEGMENT ARRIVES) as a function: the tests
compare the simulator with it cell by cell, and the book's appendix "What TCP
does when..." quotes its clauses.  It imports nothing from the simulator.
"""

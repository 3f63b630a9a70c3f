"""tcpsim: a table-driven, sans-I/O model of TCP connection management."""

"""A library on a Chroma server, shared by a team: the server's collections and this client's mirror."""

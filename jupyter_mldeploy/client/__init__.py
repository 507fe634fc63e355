"""Host-side tools that talk to a scoring server: the HTTP client, a server in a child process,
the entry-script check and the load test. None of this goes into images (see ``scoring/``).
"""

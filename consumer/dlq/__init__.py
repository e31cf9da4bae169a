"""The operator's dead-letter tools (`tiktok-relay dlq`): programs that read what the service's writer
(``consumer.deadletter``) wrote.

- ``scan``: a bounded read of a dead-letter topic; ``selection``: reading its records, filters and verdicts.
- ``inspect``: the summary of a topic, with masked samples; ``original``: a dead letter's original event decoded.
- ``source``: a reduced dead letter's original read back from its source topic.
- ``replay``: the replay's run; ``target``, ``to_source`` and ``to_tiktok``: where it sends; ``report``: what it
  reports; ``audit``: its audit record; ``replayed``: the replay record, so that overlapping replays send each once.
"""

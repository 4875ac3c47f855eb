-- Topics that keep only a window of their newest events (sensor readings) are trimmed by topic: index it.
CREATE INDEX events_topic_seq ON events (topic, seq);

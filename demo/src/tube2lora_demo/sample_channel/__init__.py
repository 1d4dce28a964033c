"""The sample channel "Fenwick Fixes Bikes": scripts (channel.yaml) rendered to speech (render), served as an
RSS feed for yt-dlp (server), and the word error rate of transcripts against the scripts (scoring)."""

"""Policy objectives: DPO and KTO through TRL, LiPO and RAFT with our loop, and their held-out evaluation."""

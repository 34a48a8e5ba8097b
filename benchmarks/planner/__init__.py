"""Planner benchmark: parse rate, validity per repair round and tokens, from recorded
(goal, answers) pairs offline or from any litellm model live."""

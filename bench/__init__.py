"""`manage.py bench`: a synthetic crisis-scale data set on PostgreSQL and figures beside baselines."""

"""use_cases"""

"""Lesson 16, the coding exercise: fill L1, but never keep a value whose key changed meanwhile."""


def answer(l1, versions, key, read_from_redis):
    if key in l1:
        return l1[key]
    noted = versions.get(key, 0)
    value = read_from_redis()
    if versions.get(key, 0) == noted:
        l1[key] = value
    return value

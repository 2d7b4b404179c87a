import curriculens as cl


def test_every_public_name_resolves():
    for name in cl.__all__:
        assert getattr(cl, name) is not None


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cl.nope  # noqa: B018

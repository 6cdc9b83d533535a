"""Password entropy port of go-password-validator v0.3.0 at 52 bits."""

from coder_emulator import passwords


def test_entropy_values():
    # base 26 (lowercase) * length 8 (no sequences) -> 8 * log2(26)
    assert round(passwords.entropy("qzmxwnvb"), 3) == round(8 * 4.700439718141092, 3)
    # Sequences of more than two ("abcdef") and repeats ("aaaa") are shortened.
    assert passwords._length("abcdef") == 2
    assert passwords._length("aaaa") == 2


def test_validate():
    assert passwords.validate("SomeSecurePassword!") is None
    assert passwords.validate("password") == ("insecure password, try including more special characters, "
                                              "using uppercase letters, using numbers or using a longer password")
    assert passwords.validate("Aa1!" + "qz" * 35) == "password must be no more than 64 characters"
    assert passwords.validate("") is not None

/// Phone numbers in E.164, derived only where the text leaves no doubt.
public enum PhoneNumber {
    /// `+31 20 123 4567`, `+31-20-1234567`, `0031201234567` → `+31201234567`. A national number
    /// (`020 1234567`) or anything else that needs a country guess gives nil: the original is kept in
    /// `number` either way.
    public static func e164(_ text: String) -> String? {
        var digits = ""
        var sawPlus = false
        for (index, character) in text.enumerated() {
            switch character {
            case "+" where index == 0: sawPlus = true
            case "0"..."9": digits.append(character)
            case " ", "-", "(", ")", ".": continue
            default: return nil
            }
        }
        if !sawPlus {
            guard digits.hasPrefix("00") else { return nil }
            digits.removeFirst(2)
        }
        guard (8...15).contains(digits.count), digits.first != "0" else { return nil }
        return "+" + digits
    }
}

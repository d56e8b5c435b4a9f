// Shamir t-of-n secret sharing over GF(2^61 − 1) (Shamir 1979): a random polynomial of degree
// t − 1 per secret element, with the element as its constant term; share i is its value at
// x = i (i ≥ 1). Any t shares give the secret back by Lagrange interpolation at 0; fewer say
// nothing about it. Coefficients come from the caller's generator, so a seeded run is
// reproducible.

/// One participant's share of a secret vector: the polynomials' values at `x`.
public struct Share: Equatable, Hashable, Sendable {
    /// The evaluation point (the holder's 1-based index), never 0.
    public var x: UInt64
    /// One value per secret element.
    public var values: [FieldElement]

    /// A share at `x` (≥ 1).
    public init(x: UInt64, values: [FieldElement]) {
        self.x = x; self.values = values
    }
}

/// Splitting and reconstruction.
public enum ShamirSharing {
    /// Shares of `secret` for the points `xs` (distinct, ≥ 1, below p), reconstructible from any
    /// `threshold` of them (1 ≤ threshold ≤ xs.count).
    public static func split<G: RandomNumberGenerator>(_ secret: [FieldElement], threshold: Int, xs: [UInt64], using rng: inout G) -> [Share] {
        precondition(threshold >= 1 && threshold <= xs.count, "ShamirSharing: threshold \(threshold) must be in 1...\(xs.count)")
        precondition(Set(xs).count == xs.count && xs.allSatisfy { $0 >= 1 && $0 < FieldElement.modulus }, "ShamirSharing: points must be distinct and in [1, p)")
        // coefficients[e][j]: the x^j coefficient of element e's polynomial (j = 0: the secret).
        let coefficients = secret.map { s in [s] + (1..<threshold).map { _ in FieldElement(rng.next() % FieldElement.modulus) } }
        return xs.map { x in
            let point = FieldElement(x)
            return Share(x: x, values: coefficients.map { c in c.reversed().reduce(FieldElement.zero) { $0 * point + $1 } })
        }
    }

    /// The secret from `shares` (interpolated at 0 through all of them; give exactly `threshold`
    /// shares, or more of a consistent sharing). Nil when points repeat or lengths differ.
    public static func reconstruct(_ shares: [Share]) -> [FieldElement]? {
        guard let first = shares.first, Set(shares.map(\.x)).count == shares.count,
              shares.allSatisfy({ $0.values.count == first.values.count && $0.x != 0 }) else { return nil }
        // Lagrange basis at 0: λ_i = Π_{j≠i} x_j / (x_j − x_i).
        var lambdas: [FieldElement] = []
        for (i, si) in shares.enumerated() {
            var num = FieldElement.one, den = FieldElement.one
            for (j, sj) in shares.enumerated() where j != i {
                num = num * FieldElement(sj.x)
                den = den * (FieldElement(sj.x) - FieldElement(si.x))
            }
            guard let inv = den.inverse else { return nil }
            lambdas.append(num * inv)
        }
        return (0..<first.values.count).map { e in
            zip(shares, lambdas).reduce(FieldElement.zero) { $0 + $1.0.values[e] * $1.1 }
        }
    }
}

/// A multilayer perceptron with ReLU hidden layers and a linear output, trained with Adam.
///
/// Parameters are one flat array, layer after layer, each layer its weights (fan-in rows of
/// fan-out values) then its biases: the layout POLICY_TRAINED serializes. Every loop adds in a
/// fixed order and uses only IEEE-754 operations that are correctly rounded (+ − × ÷ √), so the
/// same inputs give bit-identical results on every machine; the hot loops are written as
/// "row += scalar × row" so that the compiler vectorizes them without reordering a sum.
public struct Network: Sendable, Equatable {
    /// Layer widths, input first.
    public let sizes: [Int]
    /// Weights and biases, layer after layer.
    public var parameters: [Double]

    /// Where layer l's weights and biases start in `parameters`.
    let weightOffsets: [Int]
    let biasOffsets: [Int]

    public enum Failure: Error, Equatable {
        case shape(String)
    }

    /// He-uniform weights (±√(6 ÷ fan-in)), zero biases.
    public init(sizes: [Int], random: inout SeededRandom) {
        var parameters: [Double] = []
        for layer in 0..<(sizes.count - 1) {
            let (fanIn, fanOut) = (sizes[layer], sizes[layer + 1])
            let limit = (6.0 / Double(fanIn)).squareRoot()
            for _ in 0..<(fanIn * fanOut) { parameters.append(random.uniform(-limit, limit)) }
            parameters.append(contentsOf: repeatElement(0, count: fanOut))
        }
        self.init(checked: sizes, parameters: parameters)
    }

    /// A network from stored parameters (a POLICY_TRAINED event's), checked against the sizes.
    public init(sizes: [Int], parameters: [Double]) throws(Failure) {
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else { throw .shape("layer sizes \(sizes) are not a network") }
        guard parameters.count == Self.parameterCount(sizes) else {
            throw .shape("layers \(sizes) take \(Self.parameterCount(sizes)) parameters, not \(parameters.count)")
        }
        guard parameters.allSatisfy(\.isFinite) else { throw .shape("a parameter is not finite") }
        self.init(checked: sizes, parameters: parameters)
    }

    private init(checked sizes: [Int], parameters: [Double]) {
        var weightOffsets: [Int] = [], biasOffsets: [Int] = []
        var offset = 0
        for layer in 0..<(sizes.count - 1) {
            weightOffsets.append(offset)
            offset += sizes[layer] * sizes[layer + 1]
            biasOffsets.append(offset)
            offset += sizes[layer + 1]
        }
        self.sizes = sizes
        self.parameters = parameters
        self.weightOffsets = weightOffsets
        self.biasOffsets = biasOffsets
    }

    public static func parameterCount(_ sizes: [Int]) -> Int {
        zip(sizes, sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    public var inputs: Int { sizes[0] }
    public var outputs: Int { sizes[sizes.count - 1] }
    var layers: Int { sizes.count - 1 }

    /// The activations of a batch, kept for the backward pass.
    public struct Activations {
        /// activations[0] is the input; activations[l] the output of layer l (ReLU for hidden
        /// layers, linear for the last); each batch × width, row-major.
        var values: [[Double]]
        var batch: Int

        public var output: [Double] { values[values.count - 1] }
    }

    /// Forward pass of `batch` inputs (batch × inputs, row-major). An input of the wrong size
    /// gives NaN outputs (never a read outside it).
    public func forward(_ input: [Double], batch: Int) -> Activations {
        guard batch > 0, input.count == batch * inputs else {
            return Activations(values: [input, [Double](repeating: .nan, count: max(0, batch) * outputs)], batch: max(0, batch))
        }
        var values: [[Double]] = [input]
        values.reserveCapacity(sizes.count)
        parameters.withUnsafeBufferPointer { p in
            for layer in 0..<layers {
                let (fanIn, fanOut) = (sizes[layer], sizes[layer + 1])
                var out = [Double](repeating: 0, count: batch * fanOut)
                let hidden = layer < layers - 1
                values[layer].withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { z in
                        let w = p.baseAddress! + weightOffsets[layer], b = p.baseAddress! + biasOffsets[layer]
                        for row in 0..<batch {
                            let zRow = z.baseAddress! + row * fanOut
                            for j in 0..<fanOut { zRow[j] = b[j] }
                            let xRow = x.baseAddress! + row * fanIn
                            for i in 0..<fanIn {
                                let xi = xRow[i]
                                if xi == 0 { continue }
                                let wRow = w + i * fanOut
                                for j in 0..<fanOut { zRow[j] += xi * wRow[j] }
                            }
                            if hidden { for j in 0..<fanOut where !(zRow[j] > 0) { zRow[j] = 0 } }
                        }
                    }
                }
                values.append(out)
            }
        }
        return Activations(values: values, batch: batch)
    }

    /// Gradient of the loss with respect to every parameter, given the gradient at the output
    /// (batch × outputs), accumulated in the layout of `parameters`.
    public func backward(_ activations: Activations, outputGradient: [Double]) -> [Double] {
        var gradient = [Double](repeating: 0, count: parameters.count)
        // Activations of another network or a refused input: no gradient.
        guard activations.values.count == sizes.count, outputGradient.count == activations.batch * outputs,
              zip(activations.values, sizes).allSatisfy({ $0.count == activations.batch * $1 }) else { return gradient }
        var delta = outputGradient
        let batch = activations.batch
        parameters.withUnsafeBufferPointer { p in
            gradient.withUnsafeMutableBufferPointer { g in
                for layer in stride(from: layers - 1, through: 0, by: -1) {
                    let (fanIn, fanOut) = (sizes[layer], sizes[layer + 1])
                    let input = activations.values[layer]
                    var previous = layer > 0 ? [Double](repeating: 0, count: batch * fanIn) : []
                    input.withUnsafeBufferPointer { x in
                        delta.withUnsafeBufferPointer { d in
                            let gw = g.baseAddress! + weightOffsets[layer], gb = g.baseAddress! + biasOffsets[layer]
                            let w = p.baseAddress! + weightOffsets[layer]
                            for row in 0..<batch {
                                let dRow = d.baseAddress! + row * fanOut
                                for j in 0..<fanOut { gb[j] += dRow[j] }
                                let xRow = x.baseAddress! + row * fanIn
                                for i in 0..<fanIn {
                                    let xi = xRow[i]
                                    if xi == 0 { continue }
                                    let gRow = gw + i * fanOut
                                    for j in 0..<fanOut { gRow[j] += xi * dRow[j] }
                                }
                            }
                            guard layer > 0 else { return }
                            previous.withUnsafeMutableBufferPointer { back in
                                for row in 0..<batch {
                                    let dRow = d.baseAddress! + row * fanOut, xRow = x.baseAddress! + row * fanIn
                                    let backRow = back.baseAddress! + row * fanIn
                                    for i in 0..<fanIn where xRow[i] > 0 {  // ReLU: no gradient where it was cut
                                        let wRow = w + i * fanOut
                                        var sum = 0.0
                                        for j in 0..<fanOut { sum += wRow[j] * dRow[j] }
                                        backRow[i] = sum
                                    }
                                }
                            }
                        }
                    }
                    delta = previous
                }
            }
        }
        return gradient
    }
}

/// Adam (Kingma and Ba) with bias correction; β powers are kept as running products.
public struct Adam: Sendable {
    public var learningRate: Double
    public let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8
    var first: [Double]
    var second: [Double]
    var beta1Power = 1.0, beta2Power = 1.0

    public init(parameterCount: Int, learningRate: Double) {
        self.learningRate = learningRate
        first = [Double](repeating: 0, count: parameterCount)
        second = [Double](repeating: 0, count: parameterCount)
    }

    /// One step on `parameters` along `gradient`.
    public mutating func step(_ parameters: inout [Double], gradient: [Double]) {
        beta1Power *= beta1
        beta2Power *= beta2
        let rate = learningRate * (1 - beta2Power).squareRoot() / (1 - beta1Power)
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let epsilonHat = eps * (1 - beta2Power).squareRoot()
        first.withUnsafeMutableBufferPointer { m in
            second.withUnsafeMutableBufferPointer { v in
                parameters.withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeBufferPointer { g in
                        for k in 0..<p.count {
                            m[k] = b1 * m[k] + (1 - b1) * g[k]
                            v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                            p[k] -= rate * m[k] / (v[k].squareRoot() + epsilonHat)
                        }
                    }
                }
            }
        }
    }
}

/// Scales `gradient` so that its Euclidean norm is at most `maximum`; returns the norm before.
@discardableResult
public func clipGradient(_ gradient: inout [Double], maximum: Double) -> Double {
    var sum = 0.0
    for value in gradient { sum += value * value }
    let norm = sum.squareRoot()
    if norm > maximum {
        let scale = maximum / norm
        for k in gradient.indices { gradient[k] *= scale }
    }
    return norm
}

/// Huber loss (δ = 1) of an error and its derivative.
@inline(__always)
public func huber(_ error: Double) -> (loss: Double, derivative: Double) {
    abs(error) <= 1 ? (0.5 * error * error, error) : (abs(error) - 0.5, error > 0 ? 1 : -1)
}

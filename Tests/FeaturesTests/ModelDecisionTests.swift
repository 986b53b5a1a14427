import Foundation
import WeightLoader
import XCTest

@testable import Features

/// The pieces of `ModelDecider` that need no weight file (the file-driven decisions are tested
/// end to end against Keras in DefaultsCommandTests).
final class ModelDecisionTests: XCTestCase {
    func testInputSizeParsesAsKerasInputShape() {
        XCTAssertEqual(InputSize(parsing: "224"), InputSize(square: 224))
        XCTAssertEqual(InputSize(parsing: "160x224"), InputSize(height: 160, width: 224))
        XCTAssertEqual(InputSize(parsing: "160×224"), InputSize(height: 160, width: 224))
        XCTAssertEqual(InputSize(parsing: "160X224")?.description, "160×224")
        for bad in ["", "x", "0", "-5", "160x", "x224", "1x2x3", "big", "160x0"] {
            XCTAssertNil(InputSize(parsing: bad), bad)
        }
    }

    /// mobilenet.py / mobilenet_v2.py: the file is the one trained at the input size when that
    /// is square and published, else none (Keras then loads the 224 one).
    func testKerasPicksTheMobileNetFileByInputSize() {
        let published: Set<Int> = [128, 160, 192, 224]
        XCTAssertEqual(ModelDecider.kerasRows(for: InputSize(square: 160), among: published), 160)
        XCTAssertNil(ModelDecider.kerasRows(for: InputSize(square: 150), among: published))
        XCTAssertNil(ModelDecider.kerasRows(for: InputSize(height: 160, width: 224), among: published))
        XCTAssertNil(ModelDecider.kerasRows(for: nil, among: published))
    }

    /// `--model` alone: Keras' defaults, and an --input-size that picks the file as Keras does.
    func testModelAloneIsKerasDefaultAndSaysSo() throws {
        let plain = try ModelDecider.decide(ModelRequest(model: "mobilenet"))
        XCTAssertEqual(plain.entry.id, "mobilenet_1.0_224_notop")
        XCTAssertEqual(plain.inputSize, Decided(InputSize(square: 224), .kerasDefault))
        XCTAssertEqual(plain.alpha, Decided(1.0, .kerasDefault))
        let sized = try ModelDecider.decide(ModelRequest(model: "mobilenetv2", inputSize: InputSize(square: 96)))
        XCTAssertEqual(sized.entry.id, "mobilenet_v2_1.0_96_notop")
        XCTAssertEqual(sized.rows, Decided(96, .commandLine))
        let odd = try ModelDecider.decide(
            ModelRequest(model: "mobilenet", inputSize: InputSize(height: 160, width: 224)))
        XCTAssertEqual(odd.entry.id, "mobilenet_1.0_224_notop", "non-square: Keras loads the 224 file")
        XCTAssertEqual(odd.inputSize, Decided(InputSize(height: 160, width: 224), .commandLine))
        let b3 = try ModelDecider.decide(ModelRequest(model: "efficientnetb3"))
        XCTAssertEqual(b3.inputSize, Decided(InputSize(square: 300), .kerasDefault))
        XCTAssertNil(b3.alpha)
        XCTAssertThrowsError(try ModelDecider.decide(ModelRequest())) {
            XCTAssertEqual($0 as? ExtractionError, .noModel)
        }
    }
}

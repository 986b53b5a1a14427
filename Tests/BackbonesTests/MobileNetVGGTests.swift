import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// MobileNet's and VGG's structure: Keras' layer order and MobileNet's strided padding.
/// Parity with Keras is BackboneParityTests'.
final class MobileNetVGGTests: XCTestCase {
    /// The Swift graphs list the weighted layers exactly as Keras' legacy order does.
    func testWeightedLayersMirrorKeras() throws {
        for alpha in [0.25, 0.5, 0.75, 1.0] {
            let id = "MobileNet_\(alpha)"
            let arch = try ArchitectureCatalog.architecture(id)
            let g = try MobileNet.graph(alpha: alpha, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, arch.outputShape.compactMap { $0 }, id)
            XCTAssertEqual(g.name, MobileNet.modelName(alpha: alpha, size: 224))
        }
        for depth in [16, 19] {
            let id = "VGG\(depth)"
            let arch = try ArchitectureCatalog.architecture(id)
            let g = try VGG.graph(depth: depth, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [7, 7, 512], id)
            XCTAssertEqual(g.nodes.last?.name, "block5_pool", id)
        }
        XCTAssertEqual(MobileNet.modelName(alpha: 0.5, size: 97), "mobilenet_0.50_97")
    }

    /// Keras' stride-2 blocks pad (0,1),(0,1) then run "valid": 97 -> conv1 49 -> 24 -> 12 -> 6 -> 3.
    func testMobileNetStridedPaddingAtOddSize() throws {
        let g = try MobileNet.graph(alpha: 0.5, height: 97, width: 97)
        func shape(_ name: String) -> [Int]? {
            g.nodes.first { $0.name == name }.map { g.shape($0.id).dimensions }
        }
        XCTAssertEqual(shape("conv1"), [49, 49, 16])
        XCTAssertEqual(shape("conv_pad_2"), [50, 50, 32])
        XCTAssertEqual(shape("conv_dw_2"), [24, 24, 32])
        XCTAssertEqual(shape("conv_dw_4"), [12, 12, 64])
        XCTAssertEqual(shape("conv_dw_6"), [6, 6, 128])
        XCTAssertEqual(shape("conv_dw_12"), [3, 3, 256])
        XCTAssertEqual(shape("conv_pw_13_relu"), [3, 3, 512])
        XCTAssertNil(shape("conv_pad_3"))
    }
}

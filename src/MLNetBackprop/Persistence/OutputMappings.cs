using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNetBackprop.Persistence;

// The stateless column mappings of a saved pipeline. ML.NET's ONNX transform gives a one-element vector for each of
// the network's scalar outputs (ONNX scalars hit a bug in ML.NET 5.0.1's reader; the workaround is kept on 6.0.0), and the evaluators want scalars.
// A saved CustomMapping records its contract name and this assembly's name; ML.NET loads and registers the assembly
// itself when the model is loaded, so a loading application only needs this library deployed.
// The contract names are part of the file format: never rename them.

/// <summary>Names of the intermediate columns of a saved pipeline (dropped at its end).</summary>
internal static class SavedColumns
{
    public const string Score = "Backprop.Score";
    public const string Probability = "Backprop.Probability";
    public const string PredictedLabel = "Backprop.PredictedLabel";
    public const string ClassIndex = "Backprop.ClassIndex";
    public const string ClassValue = "Backprop.ClassValue";
}

internal sealed class BinaryOnnxOutputs
{
    [ColumnName(SavedColumns.Score), VectorType(1)]
    public float[] Score { get; set; } = [];

    [ColumnName(SavedColumns.Probability), VectorType(1)]
    public float[] Probability { get; set; } = [];

    [ColumnName(SavedColumns.PredictedLabel), VectorType(1)]
    public bool[] PredictedLabel { get; set; } = [];
}

internal sealed class BinaryOutputs
{
    public float Score { get; set; }
    public float Probability { get; set; }
    public bool PredictedLabel { get; set; }
}

internal sealed class ScalarOnnxScore
{
    [ColumnName(SavedColumns.Score), VectorType(1)]
    public float[] Score { get; set; } = [];
}

internal sealed class ScalarScore
{
    public float Score { get; set; }
}

internal sealed class OnnxClassIndex
{
    [ColumnName(SavedColumns.PredictedLabel), VectorType(1)]
    public long[] PredictedLabel { get; set; } = [];
}

internal sealed class ClassIndex
{
    [ColumnName(SavedColumns.ClassIndex)]
    public long Index { get; set; }
}

/// <summary>Binary classification: the ONNX outputs Score, Probability, PredictedLabel as scalars.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class BinaryOutputsMapping : CustomMappingFactory<BinaryOnnxOutputs, BinaryOutputs>
{
    public const string ContractName = "MLNetBackprop.BinaryOutputs.v1";

    public override Action<BinaryOnnxOutputs, BinaryOutputs> GetMapping() => Map;

    private static void Map(BinaryOnnxOutputs src, BinaryOutputs dst)
    {
        dst.Score = src.Score[0];
        dst.Probability = src.Probability[0];
        dst.PredictedLabel = src.PredictedLabel[0];
    }
}

/// <summary>Scalar regression: the ONNX output Score as a scalar.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class ScalarScoreMapping : CustomMappingFactory<ScalarOnnxScore, ScalarScore>
{
    public const string ContractName = "MLNetBackprop.ScalarScore.v1";

    public override Action<ScalarOnnxScore, ScalarScore> GetMapping() => Map;

    private static void Map(ScalarOnnxScore src, ScalarScore dst) => dst.Score = src.Score[0];
}

/// <summary>Multiclass: the ONNX ArgMax output (0-based class index) as a scalar, mapped to the label's key next.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class ClassIndexMapping : CustomMappingFactory<OnnxClassIndex, ClassIndex>
{
    public const string ContractName = "MLNetBackprop.ClassIndex.v1";

    public override Action<OnnxClassIndex, ClassIndex> GetMapping() => Map;

    private static void Map(OnnxClassIndex src, ClassIndex dst) => dst.Index = src.PredictedLabel[0];
}

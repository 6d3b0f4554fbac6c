using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MLNetBackprop.Tests;

/// <summary>ExportOnnx writes a standard ONNX model that ONNX Runtime scores like the library does.</summary>
[Collection(PersistenceHarness.Collection)]
public sealed class OnnxExportTests(PersistenceHarness harness)
{
    public static TheoryData<string> Tasks => new() { "binary", "multiclass", "regression", "multiregression" };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void ExportedModel_RunsInOnnxRuntime_WithTheLibrarysOutputs(string task)
    {
        var c = harness.Get(task);
        var transformer = ((IEnumerable<ITransformer>)c.Model).OfType<BackpropTransformer>().Single();
        var scored = c.Model.Transform(c.Data);
        var expected = PersistenceHarness.Rows(scored, task);
        var features = c.Ml.Data.CreateEnumerable<FeatureRow>(scored, reuseRowObject: false).Select(r => r.Features).ToArray();
        int n = features.Length, d = features[0].Length;

        using var stream = new MemoryStream();
        c.Ml.Backprop().ExportOnnx(transformer, stream);
        using var session = new InferenceSession(stream.ToArray());
        Assert.Equal(["Features"], session.InputMetadata.Keys);
        var expectedOutputs = task switch
        {
            "binary" => new[] { "Score", "Probability", "PredictedLabel" },
            "multiclass" => ["Score", "PredictedLabel"],
            _ => ["Score"],
        };
        Assert.Equal(expectedOutputs, session.OutputMetadata.Keys);

        var input = new DenseTensor<float>(features.SelectMany(f => f).ToArray(), [n, d]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Features", input)]);
        var byName = results.ToDictionary(r => r.Name);
        var score = byName["Score"].AsTensor<float>();
        int k = (int)score.Dimensions[1];
        var actual = new List<double[]>();
        for (int i = 0; i < n; i++)
        {
            var row = new List<double>();
            for (int j = 0; j < k; j++) row.Add(score[i, j]);
            if (task == "binary")
            {
                row.Add(byName["Probability"].AsTensor<float>()[i, 0]);
                row.Add(byName["PredictedLabel"].AsTensor<bool>()[i, 0] ? 1 : 0);
            }
            if (task == "multiclass") row.Add(byName["PredictedLabel"].AsTensor<long>()[i] + 1);
            actual.Add(row.ToArray());
        }
        PersistenceHarness.AssertClose(expected, actual, 1e-5, "ONNX Runtime");
    }

    [Fact]
    public void ExportedModel_DeclaresOpset13_AndBatchShapes()
    {
        var c = harness.Get("multiclass");
        var transformer = ((IEnumerable<ITransformer>)c.Model).OfType<BackpropTransformer>().Single();
        using var stream = new MemoryStream();
        transformer.ExportOnnx(stream);
        using var session = new InferenceSession(stream.ToArray());
        Assert.Equal([-1, 4], session.InputMetadata["Features"].Dimensions);
        Assert.Equal([-1, 3], session.OutputMetadata["Score"].Dimensions);
        Assert.Equal([-1], session.OutputMetadata["PredictedLabel"].Dimensions);
        Assert.Equal("MLNetBackprop", session.ModelMetadata.ProducerName);
        Assert.True(session.ModelMetadata.CustomMetadataMap.ContainsKey("mlnetbackprop.model"));
    }

    public sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }
}

using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Interop;
using MLNetBackprop.Onnx;

namespace MLNetBackprop.Persistence;

/// <summary>
/// Saves a <see cref="BackpropTransformer"/> through ML.NET's public API. ML.NET (5.0.1 and 6.0.0) gives third-party transformers no
/// way to write bytes into a model file, so at save time the transformer builds an equivalent chain of ML.NET's own
/// savable transformers and lets it save itself in its place:
/// <list type="number">
/// <item>ApplyOnnxModel over the network written as ONNX (row layout, outputs Backprop.Score / Probability / PredictedLabel),
/// with the library's own description (options, history, names) in the ONNX metadata;</item>
/// <item>stateless registered CustomMappings that turn the one-element ONNX vectors into the scalar columns the
/// evaluators expect, or CopyColumns for vector scores;</item>
/// <item>multiclass: MapValue (class index → the label's original value) and MapValueToKey with the label's values as
/// key data, so PredictedLabel is a key with the label's KeyValues;</item>
/// <item>DropColumns of the intermediate Backprop.* columns.</item>
/// </list>
/// Loading needs only ML.NET, Microsoft.ML.OnnxTransformer, the native ONNX Runtime and this assembly.
/// </summary>
internal static class NativePipeline
{
    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }

    private sealed class LookupRow<T>
    {
        public long Index { get; set; }
        public T Value { get; set; } = default!;
    }

    private sealed class KeyRow<T>
    {
        public T Value { get; set; } = default!;
    }

    /// <summary>
    /// Where <see cref="Save"/> writes its temporary ONNX file; null (the default) for the system's temp folder. Set by
    /// tests (for their own async flow only) to check that a save leaves nothing behind without watching a folder that
    /// other processes share.
    /// </summary>
    internal static readonly AsyncLocal<string?> TemporaryFolder = new();

    public static OnnxExport.Names RowNames(string featureColumnName) =>
        new(featureColumnName, SavedColumns.Score, SavedColumns.Probability, SavedColumns.PredictedLabel);

    /// <summary>Builds the native chain and saves it into <paramref name="ctx"/>; leaves no file behind.</summary>
    public static void Save(BackpropTransformer transformer, ModelSaveContext ctx)
    {
        var onnx = OnnxExport.Write(transformer.Model, RowNames(transformer.FeatureColumnName), OnnxLayout.Row,
            new Dictionary<string, string> { [SavedModelInfo.Key] = SavedModelInfo.From(transformer).ToJson() });
        // ApplyOnnxModel(Stream) leaves its temp copy behind; a file of our own is deleted once the chain is disposed.
        string path = Path.Combine(TemporaryFolder.Value ?? Path.GetTempPath(), $"mlnetbackprop-{Guid.NewGuid():N}.onnx");
        ITransformer? chain = null;
        try
        {
            File.WriteAllBytes(path, onnx);
            chain = Build(transformer, path);
            ((ICanSaveModel)chain).Save(ctx);
        }
        finally
        {
            (chain as IDisposable)?.Dispose();
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // Best effort: the file is in the temp folder.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>
    /// The native chain, flat: [OnnxTransformer, mappings…, DropColumns]. <see cref="BackpropModelLoader"/> recognizes it
    /// after loading as a chain that starts with the OnnxTransformer carrying the library's metadata.
    /// </summary>
    private static TransformerChain<ITransformer> Build(BackpropTransformer t, string onnxPath)
    {
        var ml = new MLContext(seed: 0);
        var model = t.Model;
        var outputs = model.Head.SavedOutputs;
        var steps = new List<IEstimator<ITransformer>> { ml.Transforms.ApplyOnnxModel(outputs, [t.FeatureColumnName], onnxPath) };
        var drop = new List<string>(outputs);
        steps.AddRange(model.Head.SavedMappings(ml, t, drop));
        steps.Add(ml.Transforms.DropColumns(drop.ToArray()));

        var definition = SchemaDefinition.Create(typeof(FeatureRow));
        definition[0].ColumnName = t.FeatureColumnName;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, model.InputSize);
        IDataView data = ml.Data.LoadFromEnumerable(new List<FeatureRow>(), definition);
        var fitted = new List<ITransformer>();
        try
        {
            foreach (var step in steps)
            {
                var transformer = step.Fit(data);
                fitted.Add(transformer);
                data = transformer.Transform(data);
            }
        }
        catch
        {
            foreach (var f in fitted) (f as IDisposable)?.Dispose();
            throw;
        }
        return new TransformerChain<ITransformer>(fitted.ToArray());
    }

    /// <summary>Class index (0-based, Int64) → PredictedLabel, a key whose KeyValues are the label's.</summary>
    internal static IEnumerable<IEstimator<ITransformer>> KeyMapping(MLContext ml, DataViewSchema.Annotations? label, int k)
    {
        if (label?.Schema.GetColumnOrNull("KeyValues") is { Type: VectorDataViewType { ItemType: var item } } kv && kv.Type.SlotCount() == k)
        {
            return ItemTypeDispatch.Invoke(item.RawType, new KeyMappingOf(ml, label));
        }
        // No KeyValues on the label: the key's values are the class indices.
        var indices = ml.Data.LoadFromEnumerable(Enumerable.Range(0, k).Select(i => new KeyRow<long> { Value = i }).ToList());
        return [ml.Transforms.CopyColumns(SavedColumns.ClassValue, SavedColumns.ClassIndex),
            ml.Transforms.Conversion.MapValueToKey(OutputSchema.PredictedLabel, SavedColumns.ClassValue, keyData: indices)];
    }

    /// <summary>The mapping for key values of the label's item type T, known only at run time (see ItemTypeDispatch).</summary>
    private sealed class KeyMappingOf(MLContext ml, DataViewSchema.Annotations label) : ItemTypeDispatch.IFunc<IEnumerable<IEstimator<ITransformer>>>
    {
        public IEnumerable<IEstimator<ITransformer>> Invoke<T>()
        {
            var buffer = default(VBuffer<T>);
            label.GetValue("KeyValues", ref buffer);
            var values = buffer.DenseValues().ToArray();
            var lookup = ml.Data.LoadFromEnumerable(values.Select((v, i) => new LookupRow<T> { Index = i, Value = v }).ToList());
            var keys = ml.Data.LoadFromEnumerable(values.Select(v => new KeyRow<T> { Value = v }).ToList());
            return [ml.Transforms.Conversion.MapValue(SavedColumns.ClassValue, lookup, lookup.Schema[nameof(LookupRow<T>.Index)],
                    lookup.Schema[nameof(LookupRow<T>.Value)], SavedColumns.ClassIndex),
                ml.Transforms.Conversion.MapValueToKey(OutputSchema.PredictedLabel, SavedColumns.ClassValue, keyData: keys)];
        }
    }
}

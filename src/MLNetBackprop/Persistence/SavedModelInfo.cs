using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using MLNetBackprop.Core;

namespace MLNetBackprop.Persistence;

/// <summary>
/// What a saved model carries besides the network's weights (which are the ONNX graph's initializers): the task, the
/// column names, the target scaling, the class names, the training options and the training history. Stored as JSON in
/// the ONNX model's metadata_props under <see cref="Key"/>.
/// </summary>
internal sealed class SavedModelInfo
{
    public const string Key = "mlnetbackprop.model";
    public const int CurrentFormat = 1;

    public int Format { get; set; } = CurrentFormat;
    public BackpropTask Task { get; set; }
    public bool VectorOutput { get; set; }
    public string FeatureColumnName { get; set; } = "";
    public string LabelColumnName { get; set; } = "";
    public int[] LayerSizes { get; set; } = [];
    public Activation[] Activations { get; set; } = [];
    public float[] TargetMean { get; set; } = [];
    public float[] TargetScale { get; set; } = [];
    public string[] ClassNames { get; set; } = [];
    public JsonObject Options { get; set; } = [];
    public EpochRecord[] Epochs { get; set; } = [];
    public int BestEpoch { get; set; }
    public StopReason StopReason { get; set; }

    /// <summary>What the weight-decay search tried and chose (null when λ was fixed, and in files saved before it existed).</summary>
    public WeightDecaySelection? WeightDecaySelection { get; set; }

    /// <summary>SHA-256 of the network's parameters (W⁰, b⁰, W¹, b¹, … as little-endian floats), checked on load.</summary>
    public string ParametersSha256 { get; set; } = "";

    public static string Hash(NeuralNetwork<float> network) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(network.Parameters)));

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    // Options that are not data: they are not saved and come back as their defaults.
    private static readonly HashSet<string> Transient = [nameof(BackpropTrainerOptions.CancellationToken), nameof(BackpropTrainerOptions.EpochCompleted), nameof(BackpropTrainerOptions.GradientAllreduce)];

    private static IEnumerable<PropertyInfo> OptionProperties() =>
        typeof(BackpropTrainerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.CanWrite && !Transient.Contains(p.Name));

    public static SavedModelInfo From(BackpropTransformer t)
    {
        var m = t.Model;
        var options = new JsonObject();
        foreach (var p in OptionProperties())
            options[p.Name] = JsonSerializer.SerializeToNode(p.GetValue(t.Options), p.PropertyType, Json);
        return new SavedModelInfo
        {
            Task = m.Task,
            VectorOutput = m.VectorOutput,
            FeatureColumnName = t.FeatureColumnName,
            LabelColumnName = t.LabelColumnName,
            LayerSizes = m.LayerSizes.ToArray(),
            Activations = m.Activations.ToArray(),
            TargetMean = m.Mean,
            TargetScale = m.Scale,
            ClassNames = m.ClassNameArray,
            Options = options,
            Epochs = t.History.Epochs.ToArray(),
            BestEpoch = t.History.BestEpoch,
            StopReason = t.History.StopReason,
            WeightDecaySelection = t.History.WeightDecaySelection,
            ParametersSha256 = Hash(m.Network),
        };
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <exception cref="InvalidDataException">The text is not a model description this version can read.</exception>
    public static SavedModelInfo Parse(string json)
    {
        SavedModelInfo? info;
        try
        {
            info = JsonSerializer.Deserialize<SavedModelInfo>(json, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The model description is not valid: {e.Message}", e);
        }
        if (info is null) throw new InvalidDataException("The model description is empty.");
        if (info.Format != CurrentFormat)
            throw new InvalidDataException($"The model was saved in format {info.Format}; this version of MLNetBackprop reads format {CurrentFormat}.");
        return info;
    }

    public BackpropTrainerOptions ToOptions()
    {
        var o = new BackpropTrainerOptions();
        foreach (var p in OptionProperties())
            if (Options.TryGetPropertyValue(p.Name, out var node))
            {
                try
                {
                    p.SetValue(o, node is null ? null : node.Deserialize(p.PropertyType, Json));
                }
                catch (Exception e) when (e is JsonException or ArgumentException)
                {
                    throw new InvalidDataException($"The saved option {p.Name} is not valid: {e.Message}", e);
                }
            }
        return o;
    }

    public TrainingHistory ToHistory()
    {
        try
        {
            return new TrainingHistory(Epochs, BestEpoch, StopReason) { WeightDecaySelection = WeightDecaySelection };
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The saved training history is not valid: {e.Message}", e);
        }
    }
}

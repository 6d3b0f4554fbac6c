using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// K one-output regressors fitted side by side on a vector label, one per slot, whose scores are concatenated into one
/// vector Score column. Made by <see cref="MultiOutputRegressionCatalogExtensions.PerOutputRegression"/>.
/// </summary>
/// <remarks>
/// The fitted model is a plain <see cref="TransformerChain{TLastTransformer}"/> of ML.NET transformers (each output's
/// model, a copy of its Score, a Concatenate and a DropColumns), so it scores, saves and loads like any ML.NET model
/// and needs no label at scoring time.
/// </remarks>
public sealed class PerOutputRegressionEstimator : IEstimator<TransformerChain<ITransformer>>
{
    private const string TempPrefix = "__PerOutput";
    private readonly MLContext _ml;
    private readonly Func<string, IEstimator<ITransformer>> _trainer;
    private readonly string _label;
    private readonly string _score;

    internal PerOutputRegressionEstimator(MLContext ml, Func<string, IEstimator<ITransformer>> trainer, string labelColumnName, string scoreColumnName)
    {
        _ml = ml;
        _trainer = trainer;
        _label = labelColumnName;
        _score = scoreColumnName;
    }

    /// <summary>Fits one model per output of the vector label (each on a Single column holding its slot) and chains them.</summary>
    /// <param name="input">The training rows: the vector label and whatever the per-output trainers read (e.g. Features).</param>
    /// <returns>The chain that writes the vector Score column.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The label column is not in <paramref name="input"/>.</exception>
    /// <exception cref="ArgumentException">The label is not a known-size vector of Single, or a per-output trainer does not write a Single Score.</exception>
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var label = input.Schema.GetColumnOrNull(_label) ?? throw new ArgumentOutOfRangeException("labelColumnName",
            $"Column '{_label}' (the label column) was not found in the training data. Its columns are: {string.Join(", ", input.Schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}'"))}.");
        int k = MultiOutputRegressionEvaluator.OutputCount(label, "label", "labelColumnName");
        var labels = TempNames(input.Schema, "Label", k);
        var scores = TempNames(input.Schema, "Score", k);
        var view = new LabelSlotsDataView(input, label, labels);

        var transformers = new List<ITransformer>();
        IDataView current = view;
        for (int j = 0; j < k; j++)
        {
            var model = _trainer(labels[j]).Fit(view);
            current = model.Transform(current);
            var score = current.Schema.GetColumnOrNull("Score");
            if (score is null || score.Value.Type != NumberDataViewType.Single)
                throw new ArgumentException(
                    $"The trainer of output {j} writes {(score is null ? "no 'Score' column" : $"a 'Score' column of type {score.Value.Type}")}; PerOutputRegression needs a one-output regressor (Single Score).",
                    "trainer");
            var copy = _ml.Transforms.CopyColumns(scores[j], "Score").Fit(current);
            current = copy.Transform(current);
            transformers.Add(model);
            transformers.Add(copy);
        }
        var concatenate = _ml.Transforms.Concatenate(_score, scores).Fit(current);
        current = concatenate.Transform(current);
        var drop = _ml.Transforms.DropColumns(scores).Fit(current);
        transformers.Add(concatenate);
        transformers.Add(drop);
        return new TransformerChain<ITransformer>(transformers, transformers.Select(_ => TransformerScope.Everything));
    }

    /// <summary>The input columns with the vector Score column added; checks the label and one per-output trainer's schema.</summary>
    /// <param name="inputSchema">The shape of the training rows.</param>
    /// <returns>The output shape.</returns>
    /// <exception cref="ArgumentException">The label is missing or not a known-size vector of Single, or the per-output trainer rejects the input.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = inputSchema.LastOrDefault(c => c.Name == _label);
        if (label.Name is null)
            throw new ArgumentOutOfRangeException("labelColumnName",
                $"Column '{_label}' (the label column) was not found. Its columns are: {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}.");
        if (label.ItemType != NumberDataViewType.Single || label.IsKey || label.Kind == SchemaShape.Column.VectorKind.VariableVector)
            throw new ArgumentException(
                $"Column '{_label}' (the label column) is {MultiOutputRegressionCatalogExtensions.Describe(label)}; PerOutputRegression expects a known-size vector of Single.",
                "labelColumnName");
        string probe = TempPrefix + "Label0__";
        var withLabel = new DataViewSchema.Builder();
        withLabel.AddColumn(probe, NumberDataViewType.Single);
        var trained = _trainer(probe).GetOutputSchema(SchemaShapes.Merge(inputSchema, SchemaShapes.FromSchema(withLabel.ToSchema())));
        var score = trained.LastOrDefault(c => c.Name == "Score");
        if (score.Name is null || score.Kind != SchemaShape.Column.VectorKind.Scalar || score.ItemType != NumberDataViewType.Single)
            throw new ArgumentException(
                $"The per-output trainer writes {(score.Name is null ? "no 'Score' column" : $"a 'Score' column that is {MultiOutputRegressionCatalogExtensions.Describe(score)}")}; PerOutputRegression needs a one-output regressor (Single Score).",
                "trainer");
        var added = new DataViewSchema.Builder();
        added.AddColumn(_score, new VectorDataViewType(NumberDataViewType.Single, 1)); // a shape records only "known-size vector"
        return SchemaShapes.Merge(inputSchema, SchemaShapes.FromSchema(added.ToSchema()));
    }

    private static string[] TempNames(DataViewSchema schema, string what, int k)
    {
        string prefix = TempPrefix + what;
        while (schema.Any(c => c.Name.StartsWith(prefix, StringComparison.Ordinal))) prefix += "_";
        return Enumerable.Range(0, k).Select(j => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefix}{j}__")).ToArray();
    }
}

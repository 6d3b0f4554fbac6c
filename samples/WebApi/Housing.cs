using Microsoft.ML;
using Microsoft.ML.Data;

namespace WebApi;

/// <summary>
/// One house of the Boston housing set (samples/data/housing.txt): the 13 features, named as in the file's header. This
/// is the row a client posts to <c>/predict</c> and the input of the saved pipeline.
/// </summary>
public sealed class House
{
    /// <summary>Per-capita crime rate of the town.</summary>
    public float CrimesPerCapita { get; set; }
    /// <summary>Share of residential land zoned for lots over 25,000 sq. ft.</summary>
    public float PercentResidental { get; set; }
    /// <summary>Share of non-retail business acres.</summary>
    public float PercentNonRetail { get; set; }
    /// <summary>1 if the tract bounds the Charles river, else 0.</summary>
    public float CharlesRiver { get; set; }
    /// <summary>Nitric oxides concentration (parts per 10 million).</summary>
    public float NitricOxides { get; set; }
    /// <summary>Average number of rooms per dwelling.</summary>
    public float RoomsPerDwelling { get; set; }
    /// <summary>Share of owner-occupied units built before 1940.</summary>
    public float PercentPre40s { get; set; }
    /// <summary>Weighted distance to five employment centres.</summary>
    public float EmploymentDistance { get; set; }
    /// <summary>Index of accessibility to radial highways.</summary>
    public float HighwayDistance { get; set; }
    /// <summary>Property-tax rate per $10,000.</summary>
    public float TaxRate { get; set; }
    /// <summary>Pupil-teacher ratio of the town.</summary>
    public float TeacherRatio { get; set; }
    /// <summary>1000 (Bk − 0.63)², as in the original data.</summary>
    public float BlackIndex { get; set; }
    /// <summary>Share of lower-status population.</summary>
    public float PercentLowIncome { get; set; }

    /// <summary>The feature names in the file's order, with how to set each on a row (the JSON reader uses it).</summary>
    public static IReadOnlyList<(string Name, Action<House, float> Set)> Fields { get; } =
    [
        (nameof(CrimesPerCapita), (h, v) => h.CrimesPerCapita = v),
        (nameof(PercentResidental), (h, v) => h.PercentResidental = v),
        (nameof(PercentNonRetail), (h, v) => h.PercentNonRetail = v),
        (nameof(CharlesRiver), (h, v) => h.CharlesRiver = v),
        (nameof(NitricOxides), (h, v) => h.NitricOxides = v),
        (nameof(RoomsPerDwelling), (h, v) => h.RoomsPerDwelling = v),
        (nameof(PercentPre40s), (h, v) => h.PercentPre40s = v),
        (nameof(EmploymentDistance), (h, v) => h.EmploymentDistance = v),
        (nameof(HighwayDistance), (h, v) => h.HighwayDistance = v),
        (nameof(TaxRate), (h, v) => h.TaxRate = v),
        (nameof(TeacherRatio), (h, v) => h.TeacherRatio = v),
        (nameof(BlackIndex), (h, v) => h.BlackIndex = v),
        (nameof(PercentLowIncome), (h, v) => h.PercentLowIncome = v),
    ];
}

/// <summary>What the pipeline scores: the regression output, in thousands of dollars.</summary>
public sealed class HousePrice
{
    /// <summary>The predicted median home value (ML.NET's regression <c>Score</c> column).</summary>
    public float Score { get; set; }
}

/// <summary>The bundled housing data and the pipeline the API serves.</summary>
public static class HousingModel
{
    /// <summary>Loads samples/data/housing.txt (copied next to the program): the label <c>MedianHomeValue</c> as
    /// <c>Label</c> and the 13 features under the names of <see cref="House"/>.</summary>
    public static IDataView Load(MLContext ml, string path) =>
        ml.Data.LoadFromTextFile(path,
            [
                new TextLoader.Column("Label", DataKind.Single, 0),
                .. House.Fields.Select((f, i) => new TextLoader.Column(f.Name, DataKind.Single, i + 1)),
            ],
            separatorChar: '\t', hasHeader: true);

    /// <summary>Concatenates the features, normalizes them and fits <paramref name="trainer"/> (a regression trainer).</summary>
    public static ITransformer Train(MLContext ml, IDataView data, IEstimator<ITransformer> trainer) =>
        ml.Transforms.Concatenate("Features", [.. House.Fields.Select(f => f.Name)])
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(trainer)
            .Fit(data);
}

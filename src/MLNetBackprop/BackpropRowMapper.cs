using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>Row-to-row mapping for prediction engines: one input row in, the same row with the output columns out.</summary>
internal sealed class BackpropRowMapper : IRowToRowMapper
{
    private readonly ScoringSchema _binding;

    public BackpropRowMapper(ScoringSchema binding)
    {
        _binding = binding;
    }

    public DataViewSchema InputSchema => _binding.Input;

    public DataViewSchema OutputSchema => _binding.Output;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) =>
        _binding.Split(dependingColumns).InputColumns;

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredRow(_binding, input, _binding.Split(activeColumns).Active);
    }
}

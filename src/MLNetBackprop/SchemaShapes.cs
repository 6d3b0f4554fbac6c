using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetBackprop;

/// <summary>
/// Builds <see cref="SchemaShape"/>s. ML.NET (5.0.1 and 6.0.0) keeps SchemaShape.Column's constructor and SchemaShape.Create
/// internal; the public route is to give a trivial data loader a concrete schema and ask an empty estimator chain
/// appended to it for its output shape.
/// </summary>
internal static class SchemaShapes
{
    public static SchemaShape FromSchema(DataViewSchema schema) =>
        new SchemaOnlyLoader(schema).Append(new EstimatorChain<ITransformer>()).GetOutputSchema();

    /// <summary>The columns of <paramref name="input"/> with <paramref name="added"/> appended (replacing same-named ones).</summary>
    public static SchemaShape Merge(SchemaShape input, SchemaShape added)
    {
        var names = added.Select(c => c.Name).ToHashSet();
        return new SchemaShape(input.Where(c => !names.Contains(c.Name)).Concat(added));
    }

    private sealed class SchemaOnlyLoader : IDataLoader<int>
    {
        private readonly DataViewSchema _schema;

        public SchemaOnlyLoader(DataViewSchema schema) => _schema = schema;

        public DataViewSchema GetOutputSchema() => _schema;

        public IDataView Load(int input) => throw new NotSupportedException("This loader only carries a schema.");

        void ICanSaveModel.Save(ModelSaveContext ctx) => throw new NotSupportedException("This loader only carries a schema.");
    }
}

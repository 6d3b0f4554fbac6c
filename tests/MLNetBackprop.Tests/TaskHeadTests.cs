using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetBackprop.Heads;

namespace MLNetBackprop.Tests;

/// <summary>The task heads: which head a label type gives, and that each head's column list is the schema it builds.</summary>
public sealed class TaskHeadTests
{
    public static TheoryData<string, BackpropTask, Type> Labels() => new()
    {
        { "bool", BackpropTask.Auto, typeof(BinaryHead) },
        { "key", BackpropTask.Auto, typeof(MulticlassHead) },
        { "single", BackpropTask.Auto, typeof(RegressionHead) },
        { "vector", BackpropTask.Auto, typeof(MultiOutputRegressionHead) },
        { "single", BackpropTask.BinaryClassification, typeof(BinaryHead) },
        { "single", BackpropTask.Regression, typeof(RegressionHead) },
        { "vector", BackpropTask.Regression, typeof(MultiOutputRegressionHead) },
        { "key", BackpropTask.MulticlassClassification, typeof(MulticlassHead) },
    };

    private static DataViewType TypeOf(string label) => label switch
    {
        "bool" => BooleanDataViewType.Instance,
        "key" => new KeyDataViewType(typeof(uint), 3),
        "single" => NumberDataViewType.Single,
        _ => new VectorDataViewType(NumberDataViewType.Single, 2),
    };

    [Theory]
    [MemberData(nameof(Labels))]
    public void TheLabelTypeAndTheRequestedTaskPickTheHead(string label, BackpropTask requested, Type expected)
    {
        var (head, outputs) = ColumnBinding.ResolveTask("Label", TypeOf(label), requested);
        Assert.IsType(expected, head);
        Assert.Equal(label switch { "key" => 3, "vector" => 2, _ => 1 }, outputs);
        Assert.Same(head, TaskHead.For(head.Task, head.VectorOutput));
    }

    [Fact]
    public void AutoAndUndefinedTasksHaveNoHead()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskHead.For(BackpropTask.Auto));
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskHead.For((BackpropTask)42));
    }

    [Fact]
    public void EveryHeadAddsExactlyItsColumnsInOrder()
    {
        // The scoring schema finds an added column's getter by its position in ColumnNames.
        foreach (var head in new TaskHead[] { BinaryHead.Instance, MulticlassHead.Instance, RegressionHead.Instance, MultiOutputRegressionHead.Instance })
        {
            int outputs = head.VectorOutput ? 3 : 1;
            var builder = new DataViewSchema.Builder();
            head.AddColumns(builder, outputs, null, []);
            var schema = builder.ToSchema();
            Assert.Equal(head.ColumnNames, schema.Select(c => c.Name));
            Assert.Equal(head.VectorOutput, schema[OutputSchema.Score].Type is VectorDataViewType);
            Assert.Equal(head.SavedOutputs.Length, head.ColumnNames.Length);
        }
    }
}

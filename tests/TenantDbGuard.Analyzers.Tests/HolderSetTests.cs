using TenantDbGuard.Analyzers.ConnectionLeak;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>
/// The set of variables that hold a connection on one path, against a plain set of integers: every operation the flow
/// analysis uses gives the same answer as the model, below, across and far past the first 64-bit word.
/// </summary>
public sealed class HolderSetTests
{
    // Indexes on both sides of each word boundary, and far ones that need several words.
    private static readonly int[] Edges = [0, 1, 62, 63, 64, 65, 100, 126, 127, 128, 129, 191, 192, 250];

    [Fact]
    public void An_empty_set_holds_nothing()
    {
        Assert.True(HolderSet.Empty.IsEmpty);
        Assert.True(default(HolderSet).Equals(HolderSet.Empty));
        foreach (var index in Edges)
        {
            Assert.False(HolderSet.Empty.Contains(index));
        }
    }

    [Theory]
    [MemberData(nameof(EdgeIndexes))]
    public void A_set_of_one_index_holds_that_index_and_no_other(int index)
    {
        var set = HolderSet.Of(index);

        Assert.False(set.IsEmpty);
        foreach (var other in Edges.Concat(Enumerable.Range(0, 260)).Distinct())
        {
            Assert.Equal(other == index, set.Contains(other));
        }

        Assert.True(set.Overlaps(HolderSet.Of(index)));
        Assert.Equal(HolderSet.Of(index), set);
        Assert.Equal(HolderSet.Of(index).GetHashCode(), set.GetHashCode());
        Assert.True(set.Except(HolderSet.Of(index)).IsEmpty);
        Assert.Equal(HolderSet.Empty, set.Except(set));
    }

    [Fact]
    public void Indexes_in_the_same_place_of_different_words_are_different_holders()
    {
        // 1, 65 and 129 share their bit within a word; only the word tells them apart.
        var low = HolderSet.Of(1);
        var second = HolderSet.Of(65);
        var third = HolderSet.Of(129);

        Assert.False(low.Overlaps(second));
        Assert.False(second.Overlaps(third));
        Assert.False(third.Overlaps(low));
        Assert.NotEqual(low, second);
        Assert.NotEqual(second, third);
        Assert.Equal(second, (second | third).Except(third));
        Assert.Equal(third, (second | third).Except(second));
        Assert.False((low | third).Contains(65));
        Assert.False((second | third).Contains(1));
    }

    [Fact]
    public void A_set_emptied_above_the_first_word_equals_one_that_never_went_there()
    {
        // Equal sets must be equal in every field (the visited paths are looked up by hash and equality), however
        // they were built: removing the high indexes leaves no empty words behind.
        var built = (HolderSet.Of(3) | HolderSet.Of(70) | HolderSet.Of(200)).Except(HolderSet.Of(200)).Except(HolderSet.Of(70));

        Assert.Equal(HolderSet.Of(3), built);
        Assert.True(HolderSet.Of(3).Equals((object)built));
        Assert.Equal(HolderSet.Of(3).GetHashCode(), built.GetHashCode());
        Assert.True((HolderSet.Of(70) | HolderSet.Of(200)).Except(HolderSet.Of(200)).Except(HolderSet.Of(70)).IsEmpty);

        // Removing the top word keeps the one below it.
        var shorter = (HolderSet.Of(70) | HolderSet.Of(200)).Except(HolderSet.Of(200));
        Assert.Equal(HolderSet.Of(70), shorter);
        Assert.Equal(HolderSet.Of(70).GetHashCode(), shorter.GetHashCode());
    }

    [Fact]
    public void Sets_that_differ_only_above_the_first_word_are_not_equal()
    {
        var low = HolderSet.Of(5);

        Assert.NotEqual(low, low | HolderSet.Of(64));
        Assert.NotEqual(low | HolderSet.Of(64), low);
        Assert.NotEqual(low | HolderSet.Of(64), low | HolderSet.Of(128));
        Assert.NotEqual(low | HolderSet.Of(64), low | HolderSet.Of(65));
        Assert.False(low.Equals((object)"not a set"));
    }

    [Fact]
    public void Random_sets_behave_as_sets_of_integers()
    {
        var random = new Random(20261203);
        for (var round = 0; round < 400; round++)
        {
            var (left, leftModel) = RandomSet(random);
            var (right, rightModel) = RandomSet(random);

            AssertSame(leftModel, left, "left");
            AssertSame(rightModel, right, "right");

            var union = left | right;
            AssertSame([.. leftModel.Union(rightModel)], union, "union");
            Assert.Equal(left.Union(right), union);
            Assert.Equal(right | left, union);

            var except = left.Except(right);
            AssertSame([.. leftModel.Except(rightModel)], except, "except");

            Assert.Equal(leftModel.Overlaps(rightModel), left.Overlaps(right));
            Assert.Equal(leftModel.Overlaps(rightModel), right.Overlaps(left));

            var equal = leftModel.SetEquals(rightModel);
            Assert.Equal(equal, left.Equals(right));
            Assert.Equal(equal, right.Equals(left));

            // The same set built again in another order is equal, with the same hash.
            var rebuilt = Build(leftModel.OrderByDescending(index => index));
            Assert.True(rebuilt.Equals(left), $"round {round}: {Describe(leftModel)} built in reverse differs.");
            Assert.Equal(left.GetHashCode(), rebuilt.GetHashCode());
            Assert.Equal(except, union.Except(right));
        }
    }

    public static TheoryData<int> EdgeIndexes
    {
        get
        {
            var data = new TheoryData<int>();
            foreach (var index in Edges)
            {
                data.Add(index);
            }

            return data;
        }
    }

    private static (HolderSet Set, HashSet<int> Model) RandomSet(Random random)
    {
        // Mostly small sets over a range that crosses up to four words; a few empty ones, a few only in the first word.
        var model = new HashSet<int>();
        var range = random.Next(4) switch { 0 => 64, 1 => 130, _ => 260 };
        var count = random.Next(10);
        for (var i = 0; i < count; i++)
        {
            model.Add(random.Next(range));
        }

        return (Build(model), model);
    }

    private static HolderSet Build(IEnumerable<int> indexes)
    {
        var set = HolderSet.Empty;
        foreach (var index in indexes)
        {
            set |= HolderSet.Of(index);
        }

        return set;
    }

    private static void AssertSame(HashSet<int> model, HolderSet set, string what)
    {
        Assert.Equal(model.Count == 0, set.IsEmpty);
        for (var index = 0; index < 270; index++)
        {
            Assert.True(model.Contains(index) == set.Contains(index), $"{what} {Describe(model)}: {index}");
        }

        Assert.True(set.Equals(Build(model)), $"{what} {Describe(model)} differs from the same set built from its indexes.");
        Assert.Equal(Build(model).GetHashCode(), set.GetHashCode());
    }

    private static string Describe(HashSet<int> model) => "{" + string.Join(", ", model.Order()) + "}";
}

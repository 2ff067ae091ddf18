using TenantDbGuard.Core;

namespace TenantDbGuard.Runtime.Tests;

/// <summary>
/// What a message keeps of text that came from outside (a tenant key, a database name): no character that could start
/// a forged log line or hide or reorder what the line shows, and no more than a bounded length. No server.
/// </summary>
public sealed class LogSafeTests
{
    [Fact]
    public void A_clean_short_value_is_kept_as_it_is()
    {
        const string key = "acme-corp_42.éü租户";
        Assert.Same(key, LogSafe.Text(key));
    }

    [Fact]
    public void A_missing_value_is_named_as_such() => Assert.Equal("(null)", LogSafe.Text(null));

    [Theory]
    [InlineData("a\nb", "a\\u000Ab")]
    [InlineData("a\r\nb", "a\\u000D\\u000Ab")]
    [InlineData("\tx\0", "\\u0009x\\u0000")]
    [InlineData("a\u0085b", "a\\u0085b")]
    [InlineData("a\u2028b\u2029c", "a\\u2028b\\u2029c")]
    [InlineData("acme\u202Egnp.exe", "acme\\u202Egnp.exe")]
    [InlineData("ac\u200Bme\uFEFF", "ac\\u200Bme\\uFEFF")]
    [InlineData("\u2066admin\u2069", "\\u2066admin\\u2069")]
    [InlineData("\u001B[31mred", "\\u001B[31mred")]
    public void Control_separator_and_invisible_format_characters_are_shown_escaped(string value, string shown) =>
        Assert.Equal(shown, LogSafe.Text(value));

    [Fact]
    public void A_value_of_the_limit_is_kept_whole_and_a_longer_one_is_cut_with_an_ellipsis()
    {
        var limit = new string('k', 64);
        Assert.Same(limit, LogSafe.Text(limit));
        Assert.Equal(limit + "…", LogSafe.Text(limit + "tail"));
        Assert.Equal("abc…", LogSafe.Text("abcdef", maxLength: 3));
        Assert.Equal("abc", LogSafe.Text("abc", maxLength: 3));
    }

    [Fact]
    public void The_limit_counts_the_characters_of_the_value_not_of_their_escapes()
    {
        var value = new string('\n', 10) + new string('x', 60);
        var shown = LogSafe.Text(value);
        Assert.Equal(string.Concat(Enumerable.Repeat("\\u000A", 10)) + new string('x', 54) + "…", shown);
    }

    [Fact]
    public void A_cut_never_leaves_half_of_a_surrogate_pair()
    {
        // "😀" is two chars; a cut after the first of them would leave a lone surrogate in the log.
        var value = new string('a', 63) + "😀" + "tail";
        Assert.Equal(new string('a', 63) + "…", LogSafe.Text(value));
        Assert.Equal(new string('a', 62) + "😀…", LogSafe.Text(new string('a', 62) + "😀tail"));
        Assert.Equal("😀", LogSafe.Text("😀", maxLength: 2));
    }
}

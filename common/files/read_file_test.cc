#include "common/files/read_file.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace crm {
namespace {

TEST(ReadFileTest, ReadsWholeFile) {
  const std::string path = ::testing::TempDir() + "/read_file_test.txt";
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fputs("line 1\nline 2\n", f);
  std::fclose(f);
  auto content = ReadFileToString(path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "line 1\nline 2\n");
  std::remove(path.c_str());
}

TEST(ReadFileTest, MissingFileNamesThePath) {
  auto content = ReadFileToString("/nonexistent/secret");
  EXPECT_EQ(content.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(content.status().message()).find("/nonexistent/secret"), std::string::npos);
}

}  // namespace
}  // namespace crm

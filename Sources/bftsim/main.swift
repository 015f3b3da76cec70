print("bftsim")
